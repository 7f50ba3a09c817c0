"""Layout pieces shared by pages (KPI cards, ...)."""
