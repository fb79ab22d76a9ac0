-- Which seat request an event's append answered, on the append's last event
-- (its ack's seq): "<token hash> <content digest> <request id>", NULL for
-- every other event and in logs written before. A node that loads a table
-- reads the recent ones back, so a request sent again after a restart gets
-- its first answer (docs/design.md, "Resuming across nodes"). Not part of
-- the event's JSON: the wire and the views never see it.
ALTER TABLE events ADD COLUMN request TEXT;
