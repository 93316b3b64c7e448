# The anomalies texts (English); ids shared with ../zh-CN/anomalies.ftl.

anomalies-impossible-movement-today = Impossible movement today
anomalies-the-tracing-index-is-loading-shown = The tracing index is loading; shown shortly
anomalies-one-person-scanned-at-two-venues-too = One person scanned at two venues too far apart for the time between (bound 120 km/h):
anomalies-moves = moves
anomalies-from = From
anomalies-to = To
anomalies-seconds = Seconds
anomalies-km = km
anomalies-the-full-list = The full list:
