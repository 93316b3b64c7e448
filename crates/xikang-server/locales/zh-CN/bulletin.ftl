# The bulletin texts (Chinese); ids shared with ../en/bulletin.ftl.

bulletin-daily-bulletin = 疫情通报
bulletin-plain-text = 纯文本
bulletin-new-local-confirmed = 新增本土确诊
bulletin-new-local-asymptomatic = 新增本土无症状
bulletin-new-imported-confirmed = 新增输入确诊
bulletin-new-imported-asymptomatic = 新增输入无症状
bulletin-asymptomatic-reclassified-as = 无症状转确诊
bulletin-discharged = 治愈出院
bulletin-deaths = 死亡
bulletin-cumulative-confirmed = 累计确诊
bulletin-cumulative-asymptomatic = 累计无症状
bulletin-existing-confirmed = 现有确诊
bulletin-existing-asymptomatic = 现有无症状
bulletin-new-close-contacts = 新增密接
bulletin-close-contacts-traced = 累计追踪密接
bulletin-released-from-observation = 已解除医学观察
bulletin-still-under-observation = 尚在医学观察
