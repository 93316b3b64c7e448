# The appeals texts (English); ids shared with ../zh-CN/appeals.ftl.

appeals-answers-are-recorded-in-the-audit = Answers are recorded in the audit log. An answer does not change the colour: if a fact is wrong, correct that fact (e.g. release the contact designation on the case page) and the colour follows.
appeals-send-the-answer = Send the answer
appeals-appeals = Appeals
appeals-open-count = { $n } open appeals.
