//! Languages: zh-CN by default, English on request (`?lang=en` for one page, or the
//! `xk_lang` cookie set by `/web/lang/{zh|en}`), and the texts of error codes.

use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Parses `zh` or `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn code(self) -> &'static str {
        self.t("zh", "en")
    }

    /// The HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        self.t("zh-CN", "en")
    }

    pub fn other(self) -> Lang {
        self.t_lang(Lang::En, Lang::Zh)
    }

    fn t_lang(self, zh: Lang, en: Lang) -> Lang {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        self.t("中文", "English")
    }

    /// The language of a request: `?lang=` wins, then the cookie, then the browser's
    /// `Accept-Language`, then Chinese.
    pub fn of(parts: &Parts) -> Lang {
        let query = parts.uri.query().unwrap_or("");
        let from_query = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .and_then(Lang::parse);
        from_query
            .or_else(|| {
                super::session::cookie(&parts.headers, "xk_lang").and_then(|v| Lang::parse(&v))
            })
            .or_else(|| {
                parts
                    .headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::accepted)
            })
            .unwrap_or_default()
    }

    /// The language an `Accept-Language` value (RFC 9110 §12.5.4) prefers among ours: the
    /// highest weight wins, the first of equal weights; `q=0` and other languages are passed
    /// over; none of ours gives `None`.
    pub fn accepted(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let lang = match tag
                .split('-')
                .next()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("zh") => Lang::Zh,
                Some("en") => Lang::En,
                _ => continue,
            };
            // The weight in thousandths; a malformed one counts as not acceptable.
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map(|q| (q * 1000.0).round() as u16)
                })
                .unwrap_or(0);
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::of(parts))
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

/// Only our own pages are a place to go back to (no open redirect).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/web") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/web",
    }
}

/// `GET /web/lang/{zh|en}?next=/web/…`: remembers the language in a cookie and goes back.
pub async fn switch(
    axum::extract::Path(lang): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<Next>,
) -> Response {
    let lang = Lang::parse(&lang).unwrap_or_default();
    let mut r = Redirect::to(safe_next(q.next.as_deref())).into_response();
    if let Ok(v) = format!(
        "xk_lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )
    .parse()
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The text of an error code in `lang`; English falls back to the API's message.
pub fn error_text(lang: Lang, code: &str, message: &str) -> String {
    let zh = match code {
        "forbidden" => "无权操作：您的角色或辖区不允许",
        "unauthorized" => "请先登录",
        "unknown_person" => "查无此人",
        "invalid_person_id" => "人员编号格式错误（例如 P12）",
        "unknown_case" => "查无此病例",
        "invalid_case_id" => "病例编号格式错误（例如 C1）",
        "onset_or_sampling_required" => "请填写发病时间；无症状感染者请填写采样时间",
        "time_in_future" => "时间不能晚于现在",
        "invalid_time" => "时间格式错误",
        "isolation_before_onset" => "隔离时间不能早于发病（或采样）时间",
        "case_exists" => "此人已有未结案的病例",
        "contact_status" => "当前状态下不能进行此操作",
        "not_a_contact" => "数据显示此人不是该病例的接触者",
        "reason_required" => "请填写原因",
        "site_required" => "集中隔离须填写隔离点（例如 S1）",
        "invalid_site_id" => "隔离点编号格式错误（例如 S1）",
        "site_full" => "该隔离点已满",
        "unknown_site" => "查无此隔离点",
        "order_exists" => "此人已有有效的隔离令",
        "companion_not_quarantined" => "时空伴随者按规定检测，不作隔离",
        "purpose_required" => "请填写查看用途",
        "index_loading" => "流调索引正在加载，请稍后重试",
        "tracing_elsewhere" => "本节点不提供流调查询，请使用流调节点",
        "stale_node" => "本节点尚未同步到您刚才的操作，请稍后重试",
        "invalid_seq_token" => "同步序号格式错误",
        "invalid_place_code" => "场所码格式错误",
        "unknown_place_code" => "没有此场所码的场所",
        "venue_not_allowed" => "本设备不能为此场所查验",
        "token_malformed" => "无法识别的健康码",
        "token_tampered" => "健康码签名无效",
        "token_expired" => "健康码已过期，请刷新",
        "token_unknown_key" | "token_key_not_valid" => "健康码签发密钥无效",
        "token_wrong_issuer" => "非本市签发的健康码",
        "token_not_yet_valid" => "健康码尚未生效",
        "token_not_valid_at" => "扫码时间不在健康码有效期内",
        "token_upload_too_late" => "离线扫码记录上传过晚，健康码已失效",
        "invalid_scan" => "请扫描或粘贴健康码",
        "csrf" => "页面已过期，请刷新后重试",
        "bad_login" => "用户名或密码错误",
        "too_many_logins" => "此用户名登录失败次数过多，请 15 分钟后再试",
        "invalid_reason" => "请填写申诉理由（1 至 1000 字）",
        "appeal_open" => "已有一件申诉待答复，请等待答复后再提出",
        "invalid_answer" => "请填写答复（1 至 1000 字）",
        "appeal_answered" => "此申诉已答复",
        "unknown_appeal" => "没有这件申诉",
        "too_many_logins_here" => "此地址登录失败次数过多，请 15 分钟后再试",
        "weak_password" => "密码至少 10 个字符",
        "invalid_user" => "用户信息不完整或格式错误",
        "user_exists" => "用户名已存在",
        "invalid_day" => "日期格式应为 YYYY-MM-DD",
        "unknown_tube" => "查无此试管条码",
        "invalid_barcode" => "试管条码格式错误",
        "invalid_outcome" => "结果应为 阴性、阳性 或 无效",
        "invalid_ct" => "Ct 值应在 0 到 50 之间",
        "invalid_line" => "此行字段数不对（条码,结果[,Ct[,时间]]）",
        "already_resulted" => "此试管已有结果，不能重复上传",
        "tube_not_received" => "实验室尚未接收此试管",
        "duplicate_item" => "同一试管在本次上传中出现多次",
        "empty_batch" => "没有可处理的行",
        "invalid_csv" => "文件不是 UTF-8 编码的 CSV",
        "no_valid_items" => "所有行都被拒收，未记录任何内容",
        "tube_not_open" => "此试管未开启或已封管",
        "tube_full" => "此试管已满",
        "already_sampled" => "此人今天已在本轮采样",
        "already_in_tube" => "此人已在这支试管中",
        "site_not_allowed" => "该采样点不在您的辖区内",
        "invalid_sample" => "请扫描健康码或填写证件号码",
        "retest_needs_single_tube" => "待复核人员须单管采样",
        "invalid_note" => "请填写处理说明（1 到 1000 字）",
        "unknown_task" => "查无此任务",
        "invalid_task_id" => "任务编号格式错误（例如 T1）",
        "order_not_active" => "此隔离令已结束",
        "unknown_order" => "查无此隔离令",
        "overloaded" => "系统繁忙，请稍后重试",
        "claim_code_wrong" => "验证码错误",
        "claim_expired" => "验证码已过期，请重新申领",
        "claim_attempts_exhausted" => "验证码错误次数过多，本次申领已失效，请重新申领",
        "claim_used" => "本次申领已完成",
        "claim_rate_limited" => "申领次数过多，请一小时后再试",
        "unknown_claim" | "invalid_claim_id" => "申领已失效，请重新申领",
        "invalid_code" => "验证码为 6 位数字",
        "invalid_id_number" | "invalid_id_check_digit" | "invalid_id_birth_date" => {
            "身份证号码格式错误"
        }
        "invalid_phone" => "手机号码为 11 位数字",
        "invalid_name" => "请填写姓名",
        "token_is_card" => "这是身份卡，须联网查验",
        "card_revoked" => "此身份卡已作废",
        "card_unknown" => "此身份卡不是本市签发",
        "proxy_no_match" => "查无此人：身份证号码与姓名不符",
        "proxy_limit" => "代领人数已达上限",
        "proxy_exists" => "您已代领此人的锡康码",
        "proxy_self" => "不能为自己代领",
        "invalid_relation" => "请选择与被代领人的关系",
        "invalid_category" => "请选择留言类别",
        "invalid_title" => "请填写标题（1 至 60 字）",
        "invalid_text" => "请填写留言内容（1 至 2000 字）",
        "invalid_area" => "区域代码格式错误",
        "message_rate_limited" => "留言次数过多，请一小时后再试",
        "invalid_reply" => "请填写答复（1 至 2000 字）",
        "invalid_message_reason" => "请填写办理说明（1 至 2000 字）",
        "message_state" => "留言当前状态下不能进行此操作",
        "invalid_transfer" => "转办须选择其他部门或其他区",
        "invalid_department" => "没有这个部门",
        "unknown_message" => "没有这条留言",
        "enterprise_required" => "企业用户须填写统一社会信用代码",
        "invalid_enterprise" => "只有企业用户绑定企业",
        "invalid_credit_code" => "统一社会信用代码为 18 位数字或大写字母",
        "unknown_enterprise" => "该企业尚未备案",
        "post_closed" => "该供需信息已关闭",
        "filing_not_approved" => "复工备案通过后方可申请出入证",
        "unsupported_photo" => "照片须为完整的 JPEG 或 PNG 图片",
        "unknown_photo" => "没有这张照片",
        "unknown_export" => "没有这项导出",
        "internal" => "内部错误，已记录",
        _ => return message.to_owned(),
    };
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => message.to_owned(),
    }
}

/// Whether a character is CJK (ideographs, CJK punctuation, full-width forms).
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// Escapes `text` for a page in `page`'s language, marking runs in the other language with
/// `lang` (WCAG 3.1.2): on a Chinese page, runs of Latin words (from a word of two or more
/// ASCII letters to the last ASCII letter, digit or `)` before the next non-ASCII character) become
/// `<span lang="en">`; on an English page, runs of CJK characters become
/// `<span lang="zh-CN">`. For texts the system stores in one language and shows in both (a
/// grid task's detail, "门铃 door-to-door screening of cell 3").
pub fn lang_runs(page: Lang, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        // On a Chinese page a run starts at a word of two or more letters: a lone letter
        // ("<b>", "P12", "3 号楼 A 座") is not English.
        let (starts, tag) = match page {
            Lang::Zh => (
                chars[i].is_ascii_alphabetic()
                    && chars.get(i + 1).is_some_and(char::is_ascii_alphabetic),
                "en",
            ),
            Lang::En => (is_cjk(chars[i]), "zh-CN"),
        };
        if !starts {
            out.push_str(&super::esc(&chars[i].to_string()));
            i += 1;
            continue;
        }
        let mut end = i;
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            let inside = match page {
                Lang::Zh => c.is_ascii(),
                Lang::En => is_cjk(c),
            };
            if !inside {
                break;
            }
            if page == Lang::En || c.is_ascii_alphanumeric() || c == ')' {
                end = j + 1;
            }
            j += 1;
        }
        let run: String = chars[i..end].iter().collect();
        out.push_str(&format!("<span lang=\"{tag}\">{}</span>", super::esc(&run)));
        i = end;
    }
    out
}

#[cfg(test)]
mod lang_run_tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_most_wanted_of_our_languages() {
        assert_eq!(Lang::accepted("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::accepted("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(
            Lang::accepted("fr-FR, en;q=0.5, zh-TW;q=0.7"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::accepted("de, EN-gb;q=0.3"), Some(Lang::En));
        // Equal weights: the first listed.
        assert_eq!(Lang::accepted("en;q=0.5, zh;q=0.5"), Some(Lang::En));
        // Refused or malformed weights, and no language of ours: nothing.
        assert_eq!(Lang::accepted("en;q=0, zh;q=2"), None);
        assert_eq!(Lang::accepted("en;q=abc"), None);
        assert_eq!(Lang::accepted("fr, de"), None);
        assert_eq!(Lang::accepted(""), None);
    }

    #[test]
    fn other_language_runs_are_marked_and_everything_is_escaped() {
        assert_eq!(
            lang_runs(
                Lang::Zh,
                "门铃 door-to-door screening of cell 3 (zone Z1)，<2>"
            ),
            "门铃 <span lang=\"en\">door-to-door screening of cell 3 (zone Z1)</span>，&lt;2&gt;"
        );
        assert_eq!(
            lang_runs(Lang::En, "门铃 door-to-door <x>"),
            "<span lang=\"zh-CN\">门铃</span> door-to-door &lt;x&gt;"
        );
        assert_eq!(lang_runs(Lang::Zh, "12 人"), "12 人");
        assert_eq!(
            lang_runs(Lang::Zh, "送药 <b>3 号楼</b> P12"),
            "送药 &lt;b&gt;3 号楼&lt;/b&gt; P12"
        );
        assert_eq!(lang_runs(Lang::En, "12 people"), "12 people");
    }
}
