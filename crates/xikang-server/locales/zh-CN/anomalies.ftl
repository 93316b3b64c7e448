# The anomalies texts (Chinese); ids shared with ../en/anomalies.ftl.

anomalies-impossible-movement-today = 今日异常行程
anomalies-the-tracing-index-is-loading-shown = 流调索引正在加载，稍后显示
anomalies-one-person-scanned-at-two-venues-too = 同一人在两处场所扫码、距离无法在间隔时间内到达（上限 120 km/h）：
anomalies-moves = 次
anomalies-from = 从
anomalies-to = 到
anomalies-seconds = 间隔（秒）
anomalies-km = 距离（公里）
anomalies-the-full-list = 全部列表：
