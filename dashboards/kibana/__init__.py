"""Kibana dashboards as code: the saved objects under `objects/`, and the installer that imports them.

Each file in `objects/` is one Kibana 8.x saved object named by its id, as Kibana's export writes it, with one
difference for the reader's sake: the attributes Kibana keeps as JSON text (a dashboard's `panelsJSON`, a data
view's `fieldFormatMap`, a search's `searchSourceJSON` …, listed in `install.JSON_TEXT`) are written as JSON
objects and turned into text when the NDJSON is built. Files are pretty-printed with sorted keys
(`python -m json.tool --sort-keys --indent 2 --no-ensure-ascii FILE` puts an edited one back in shape).

The data views name the indices with the default prefix (`yuqing-posts-*`, `yuqing-alerts-*`); the installer
puts the store's prefix (`[store] index_prefix`) in their place. The fields they read are those of the store's
mappings (`store/elastic/*.mappings.json`).
"""
