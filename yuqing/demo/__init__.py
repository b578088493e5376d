"""A self-contained live demo: a local news site and forum that unfold an incident, a local mail sink,
and the yuqing service watching both."""
