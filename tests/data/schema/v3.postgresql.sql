-- The schema as monitor's schema version 3 made it (postgresql): the start of the upgrade tests.

CREATE TABLE articles (
	id SERIAL NOT NULL, 
	source VARCHAR(200) NOT NULL, 
	guid TEXT NOT NULL, 
	url TEXT NOT NULL, 
	canonical_url TEXT NOT NULL, 
	title TEXT NOT NULL, 
	summary TEXT NOT NULL, 
	content TEXT NOT NULL, 
	published TIMESTAMP WITHOUT TIME ZONE, 
	fetched_at TIMESTAMP WITHOUT TIME ZONE, 
	language VARCHAR(20), 
	content_hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_articles_source_guid UNIQUE (source, guid)
);

CREATE INDEX ix_articles_canonical_url ON articles (canonical_url);

CREATE INDEX ix_articles_content_hash ON articles (content_hash);

CREATE TABLE digests (
	id SERIAL NOT NULL, 
	notifier VARCHAR(200) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	requested_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error TEXT, 
	next_attempt_at TIMESTAMP WITHOUT TIME ZONE, 
	since TIMESTAMP WITHOUT TIME ZONE, 
	until TIMESTAMP WITHOUT TIME ZONE, 
	entries INTEGER NOT NULL, 
	alerts INTEGER NOT NULL, 
	message_id TEXT, 
	sent_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_digests_notifier_status ON digests (notifier, status);

CREATE TABLE meta (
	key VARCHAR(50) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (key)
);

CREATE TABLE silences (
	id SERIAL NOT NULL, 
	rule_id VARCHAR(200) NOT NULL, 
	until TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	reason TEXT NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE snapshots (
	source VARCHAR(200) NOT NULL, 
	taken_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	size INTEGER NOT NULL, 
	entries JSON NOT NULL, 
	PRIMARY KEY (source)
);

CREATE TABLE source_state (
	name VARCHAR(200) NOT NULL, 
	etag TEXT, 
	last_modified TEXT, 
	error_count INTEGER NOT NULL, 
	last_error TEXT, 
	last_attempt TIMESTAMP WITHOUT TIME ZONE, 
	last_success TIMESTAMP WITHOUT TIME ZONE, 
	next_due TIMESTAMP WITHOUT TIME ZONE, 
	items_seen INTEGER NOT NULL, 
	last_new TIMESTAMP WITHOUT TIME ZONE, 
	last_problem TEXT, 
	extra JSON, 
	PRIMARY KEY (name)
);

CREATE TABLE events (
	id SERIAL NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	rule_ids JSON NOT NULL, 
	title TEXT NOT NULL, 
	severity VARCHAR(20) NOT NULL, 
	tags JSON NOT NULL, 
	entities JSON NOT NULL, 
	first_article_id INTEGER NOT NULL, 
	opened_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	window_seconds INTEGER NOT NULL, 
	min_sources INTEGER NOT NULL, 
	official BOOLEAN NOT NULL, 
	alert_count INTEGER NOT NULL, 
	last_alert_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(first_article_id) REFERENCES articles (id)
);

CREATE INDEX ix_events_opened ON events (opened_at);

CREATE TABLE alerts (
	id SERIAL NOT NULL, 
	event_id INTEGER NOT NULL, 
	payload JSON NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	done_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES events (id)
);

CREATE INDEX ix_alerts_pending ON alerts (done_at);

CREATE TABLE event_articles (
	id SERIAL NOT NULL, 
	event_id INTEGER NOT NULL, 
	article_id INTEGER NOT NULL, 
	source VARCHAR(200) NOT NULL, 
	url TEXT NOT NULL, 
	title TEXT NOT NULL, 
	published TIMESTAMP WITHOUT TIME ZONE, 
	domain VARCHAR(200) NOT NULL, 
	copy BOOLEAN NOT NULL, 
	rule_ids JSON NOT NULL, 
	decision VARCHAR(20) NOT NULL, 
	reason TEXT NOT NULL, 
	fingerprint JSON, 
	text TEXT NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	fetched_at TIMESTAMP WITHOUT TIME ZONE, 
	added_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES events (id), 
	FOREIGN KEY(article_id) REFERENCES articles (id)
);

CREATE INDEX ix_event_articles_event ON event_articles (event_id);

CREATE TABLE event_keys (
	key VARCHAR(100) NOT NULL, 
	event_id INTEGER NOT NULL, 
	PRIMARY KEY (key, event_id), 
	FOREIGN KEY(event_id) REFERENCES events (id)
);

CREATE TABLE matches (
	id SERIAL NOT NULL, 
	article_id INTEGER NOT NULL, 
	event_id INTEGER, 
	rule_id VARCHAR(200) NOT NULL, 
	severity VARCHAR(20) NOT NULL, 
	tags JSON NOT NULL, 
	spans JSON NOT NULL, 
	decision VARCHAR(20) NOT NULL, 
	reason TEXT NOT NULL, 
	matched_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(article_id) REFERENCES articles (id), 
	FOREIGN KEY(event_id) REFERENCES events (id)
);

CREATE INDEX ix_matches_article ON matches (article_id);

CREATE TABLE deliveries (
	id SERIAL NOT NULL, 
	alert_id INTEGER NOT NULL, 
	notifier VARCHAR(200) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error TEXT, 
	next_attempt_at TIMESTAMP WITHOUT TIME ZONE, 
	sent_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_deliveries_alert_notifier UNIQUE (alert_id, notifier), 
	FOREIGN KEY(alert_id) REFERENCES alerts (id)
);

CREATE TABLE threads (
	id SERIAL NOT NULL, 
	event_id INTEGER NOT NULL, 
	notifier VARCHAR(200) NOT NULL, 
	channel TEXT NOT NULL, 
	ref TEXT NOT NULL, 
	alert_id INTEGER NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_threads_event_notifier UNIQUE (event_id, notifier), 
	FOREIGN KEY(event_id) REFERENCES events (id), 
	FOREIGN KEY(alert_id) REFERENCES alerts (id)
);

INSERT INTO meta (key, value) VALUES ('schema_version', '3');
