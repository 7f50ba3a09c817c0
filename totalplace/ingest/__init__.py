"""Ingest: one adapter per published format behind one seam, and the pipeline that writes."""
