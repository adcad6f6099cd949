"""Airflow hooks: one per connection this project reads."""
