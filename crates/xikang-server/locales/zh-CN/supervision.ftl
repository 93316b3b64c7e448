# The supervision texts (Chinese); ids shared with ../en/supervision.ftl.

supervision-timers-breaches-count-in-the-ranking = 四早时限（超时计入红黑榜）
supervision-step = 环节
supervision-target-h-mm = 时限（时:分）
supervision-taken-h-mm = 用时（时:分）
supervision-onset-detection = 发病→发现
supervision-detection-report = 发现→报告
supervision-report-contacts-listed = 报告→密接排查
supervision-listed-contacts-quarantined = 排查→密接隔离
supervision-not-started = 未开始
supervision-breached = 超时
supervision-on-time = 按时完成
supervision-running = 计时中
