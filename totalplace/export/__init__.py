"""Writers for tables (CSV, XLSX), safe against formula injection."""
