"""Experiment configs: a base holding every key once, and recipes that override only what differs."""
