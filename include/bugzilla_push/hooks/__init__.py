"""Compatibility: module paths of earlier releases that Airflow may have stored (see CHANGELOG.md)."""
