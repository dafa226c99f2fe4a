"""Experiments above the learned families: one budget type (`budget`), the thesis's two tables (`thesis`) and their command (`cli`)."""
