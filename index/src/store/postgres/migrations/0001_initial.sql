-- faceserve template store on PostgreSQL, version 1: galleries, templates, the change log, the servers following it,
-- and the applications allowed to call the servers.

CREATE TABLE galleries (
    gallery_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app           text NOT NULL,
    name          text NOT NULL,
    created_at_ms bigint NOT NULL,
    model         text NOT NULL,
    dimension     integer NOT NULL,
    UNIQUE (app, name)
);

-- seq is the sequence number of the change that stored the template: it never repeats, grows in commit order, keys
-- the in-memory indexes and orders pages. A replaced template gets a new one.
-- Rows up to 8 kB stay in the table's pages (a 512-d embedding is 2 kB), and embeddings are not compressed (floats do
-- not compress): index builds read them back in sequence order.
CREATE TABLE templates (
    seq             bigint PRIMARY KEY,
    gallery_id      bigint NOT NULL REFERENCES galleries (gallery_id),
    template_id     uuid NOT NULL,
    model           text NOT NULL,
    dimension       integer NOT NULL,
    embedding       bytea NOT NULL,
    box_x           real NOT NULL,
    box_y           real NOT NULL,
    box_w           real NOT NULL,
    box_h           real NOT NULL,
    landmarks       bytea NOT NULL,
    detection_score real NOT NULL,
    created_at_ms   bigint NOT NULL,
    metadata        text NOT NULL,
    UNIQUE (gallery_id, template_id)
) WITH (toast_tuple_target = 8160);
ALTER TABLE templates ALTER COLUMN embedding SET STORAGE EXTERNAL;
CREATE INDEX templates_by_gallery ON templates (gallery_id, seq);

-- The feed's one row. Every write transaction locks it first (SELECT ... FOR UPDATE), which serialises writers so
-- sequence numbers are handed out in commit order, and a change log read never skips a change that commits later.
CREATE TABLE feed_head (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- The last change committed.
    last_seq    bigint NOT NULL,
    -- Changes up to this one may have been pruned from the log.
    pruned_upto bigint NOT NULL
);
INSERT INTO feed_head (last_seq, pruned_upto) VALUES (0, 0);

-- One row per change, in the transaction that made it. kind: 1 template stored (template_seq = seq), 2 template
-- removed (template_seq: the removed one), 3 gallery deleted with its templates (template_seq 0).
CREATE TABLE changes (
    seq          bigint PRIMARY KEY,
    kind         smallint NOT NULL CHECK (kind IN (1, 2, 3)),
    gallery_id   bigint NOT NULL,
    template_seq bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);

-- The servers following the log: what each has applied and the oldest change it may still replay from the log.
CREATE TABLE replicas (
    replica_id  text PRIMARY KEY,
    applied_seq bigint NOT NULL,
    needed_seq  bigint NOT NULL,
    seen_at     timestamptz NOT NULL
);

CREATE TABLE apps (
    app_id        text PRIMARY KEY,
    key_hash      text NOT NULL,
    note          text NOT NULL DEFAULT '',
    created_at_ms bigint NOT NULL,
    revoked_at_ms bigint
);
-- Bumped by every change to apps, so servers notice a revocation without rereading the table on every request.
CREATE TABLE apps_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint NOT NULL
);
INSERT INTO apps_version (version) VALUES (0);
