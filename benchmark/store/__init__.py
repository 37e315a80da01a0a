"""The rate store: partitioned Parquet parts and a manifest (rate_store), staging, Dask, ingest into a store."""
