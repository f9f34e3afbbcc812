"""The bottom of the domain graph (above only recsys.ml): pure conventions every domain may use — errors and
their API bodies, field limits and id conventions, and the demo-mode switch."""
