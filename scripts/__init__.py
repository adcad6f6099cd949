"""Scripts for developers: the Airflow stack on loopback and the chaos harness."""
