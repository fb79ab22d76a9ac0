-- Where each pokerd node can be reached, so that a node asked for a table
-- another node owns can send the client there (leases.owner names the node).
-- A node writes its row at start and refreshes `seen_at` as it renews its
-- leases; a row is never needed once the node's leases have run out, and an
-- old row is harmless (nobody is sent to a node that owns nothing).
CREATE TABLE nodes (
    node     TEXT PRIMARY KEY,     -- the node id, as in leases.owner
    address  TEXT NOT NULL,        -- its advertised base URL, http://HOST:PORT
    seen_at  TIMESTAMPTZ NOT NULL  -- by the database's clock
);
