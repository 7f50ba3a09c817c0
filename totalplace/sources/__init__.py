"""The catalogue of public sources, the local mirror, and downloads for connected machines."""
