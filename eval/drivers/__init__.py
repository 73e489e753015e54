"""Drivers that build evaluation snapshots through the pipelines code (above ``pipelines``)."""
