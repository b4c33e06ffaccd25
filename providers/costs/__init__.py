"""Cost ingestion: FOCUS-shaped rows into CostLineItem by COPY, atomically per (source, period),
with daily rollups refreshed in the same transaction."""
