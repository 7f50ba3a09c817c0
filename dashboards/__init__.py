"""The totalplace dashboard (Dash Pages): ``dashboards.app:create_app`` / ``create_server``."""
