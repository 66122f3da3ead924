DROP TRIGGER release_budget_hold ON messages;
DROP FUNCTION release_budget_hold();
DROP TABLE budget_holds;
ALTER TABLE messages DROP COLUMN held;
