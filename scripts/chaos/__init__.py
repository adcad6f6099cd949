"""The chaos harness: a real Airflow stack under faults, and a checker of what every connector got."""
