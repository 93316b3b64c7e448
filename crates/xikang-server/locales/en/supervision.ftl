# The supervision texts (English); ids shared with ../zh-CN/supervision.ftl.

supervision-timers-breaches-count-in-the-ranking = 四早 timers (breaches count in the ranking)
supervision-step = Step
supervision-target-h-mm = Target (h:mm)
supervision-taken-h-mm = Taken (h:mm)
supervision-onset-detection = Onset → detection
supervision-detection-report = Detection → report
supervision-report-contacts-listed = Report → contacts listed
supervision-listed-contacts-quarantined = Listed → contacts quarantined
supervision-not-started = not started
supervision-breached = breached
supervision-on-time = on time
supervision-running = running
