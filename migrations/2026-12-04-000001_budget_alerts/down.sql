DROP TABLE jobs;
DROP TABLE budget_alerts;
