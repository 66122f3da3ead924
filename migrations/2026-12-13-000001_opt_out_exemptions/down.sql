ALTER TABLE tenants DROP COLUMN opt_out_exempt_types;
