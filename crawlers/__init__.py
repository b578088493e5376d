"""The Scrapy project: spiders fetch and parse public pages into PostItems; pipelines clean and spool them."""
