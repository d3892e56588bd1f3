"""Pieces every service shares: settings from the environment, logging, time."""
