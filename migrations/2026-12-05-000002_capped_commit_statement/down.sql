DROP FUNCTION budget_room(uuid[], date, date);
