"""The Airflow layer: task bodies, hooks, the asset watcher's trigger, schedule and metrics.

Everything that imports Airflow lives here (and in the console); the core below it does not.
"""
