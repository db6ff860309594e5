"""Investigations over an index: batch search of many queries, export of every match, and
the timeline of matches. Callers of the engine, never copies of it."""
