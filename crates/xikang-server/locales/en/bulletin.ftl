# The bulletin texts (English); ids shared with ../zh-CN/bulletin.ftl.

bulletin-daily-bulletin = Daily bulletin
bulletin-plain-text = Plain text
bulletin-new-local-confirmed = New local confirmed
bulletin-new-local-asymptomatic = New local asymptomatic
bulletin-new-imported-confirmed = New imported confirmed
bulletin-new-imported-asymptomatic = New imported asymptomatic
bulletin-asymptomatic-reclassified-as = Asymptomatic reclassified as confirmed
bulletin-discharged = Discharged
bulletin-deaths = Deaths
bulletin-cumulative-confirmed = Cumulative confirmed
bulletin-cumulative-asymptomatic = Cumulative asymptomatic
bulletin-existing-confirmed = Existing confirmed
bulletin-existing-asymptomatic = Existing asymptomatic
bulletin-new-close-contacts = New close contacts
bulletin-close-contacts-traced = Close contacts traced
bulletin-released-from-observation = Released from observation
bulletin-still-under-observation = Still under observation
