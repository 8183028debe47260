"""Platform facts (Lambda limits, glibc per runtime) and the validated settings."""
