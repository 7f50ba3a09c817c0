"""The high-level count: apportionment by drivers, source precedence, consolidation."""
