"""Pure figure builders: DataFrame (+ GeoJSON) -> plotly Figure. No Dash, no I/O."""
