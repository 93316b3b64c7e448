//! Word lists for synthetic names: family names weighted roughly by frequency in Jiangsu,
//! given-name characters, community name parts and the brands of shops and venues. Our own
//! lists; a synthetic name matching a real person is coincidence.

use crate::rng::Rng;

/// Common family names, the most frequent in southern Jiangsu first and repeated in
/// [`FAMILY_WEIGHTS`].
const FAMILY: &[&str] = &[
    "张", "王", "陈", "周", "徐", "朱", "钱", "沈", "顾", "陆", "吴", "华", "李", "刘", "杨", "黄",
    "赵", "孙", "马", "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩",
    "冯", "邓", "曹", "彭", "曾", "蒋", "蔡", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "姚",
    "卢", "姜", "谭", "汪", "范", "金", "石", "夏", "邹", "秦", "薛", "尤", "惠", "荣", "过", "浦",
    "缪", "邵", "严", "戴", "孔", "汤",
];
/// Relative weights of [`FAMILY`]; names past the table's end weigh 2.
const FAMILY_WEIGHTS: &[u32] = &[
    16, 15, 14, 10, 10, 9, 7, 7, 6, 6, 8, 4, 12, 9, 6, 5, 5, 5, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
];

/// Given-name characters that read as male, female or either.
const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "建", "国", "峰", "亮", "成", "晨", "博", "昊",
    "轩", "睿", "洋", "志", "文", "忠", "海", "东",
];
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "桂", "英", "慧", "婷", "雪", "琳",
    "颖", "倩", "洁", "燕", "萍", "红", "梅", "琴", "蓉", "欣", "怡", "悦", "涵", "萱", "佳", "雨",
    "诗", "梦", "思", "月", "晓", "菲", "丹", "瑶",
];
const GIVEN_EITHER: &[&str] = &[
    "文", "子", "一", "嘉", "家", "永", "新", "春", "立", "安", "天", "小", "云", "金", "玉", "德",
    "晓", "宏", "雅", "清",
];

/// Picks a family name.
pub(crate) fn family_name(rng: &mut Rng) -> &'static str {
    // Weights for the listed head of the table, 2 for the tail.
    let total_head: u32 = FAMILY_WEIGHTS.iter().sum();
    let tail = (FAMILY.len() - FAMILY_WEIGHTS.len()) as u32 * 2;
    let x = rng.below(total_head + tail);
    let mut acc = 0;
    for (i, w) in FAMILY_WEIGHTS.iter().enumerate() {
        acc += w;
        if x < acc {
            return FAMILY[i];
        }
    }
    let i = FAMILY_WEIGHTS.len() + ((x - total_head) / 2) as usize;
    FAMILY.get(i).copied().unwrap_or("王")
}

/// A full name: the family name and one or two given-name characters.
pub(crate) fn full_name(rng: &mut Rng, family: &str, male: bool) -> String {
    let own = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let mut name = String::with_capacity(12);
    name.push_str(family);
    let two = rng.chance(0.7);
    if two {
        let first = if rng.chance(0.35) { GIVEN_EITHER } else { own };
        name.push_str(rng.pick(first).copied().unwrap_or("文"));
    }
    name.push_str(rng.pick(own).copied().unwrap_or("明"));
    name
}

/// First parts of community names.
pub(crate) const COMMUNITY_WORDS: &[&str] = &[
    "东风", "新华", "健康", "光明", "和平", "幸福", "春晖", "锦绣", "清扬", "长安", "金城", "太湖",
    "运河", "梅园", "惠泉", "芦庄", "广丰", "盛岸", "向阳", "民主", "永乐", "桃源", "兴隆", "瑞景",
    "五里", "通扬", "山水", "风雷", "新湖", "青石", "塘南", "西园", "北塘", "南苑", "丽新", "江南",
    "勤新", "吉祥", "阳光", "红星",
];
/// Second parts of urban community names (社区).
pub(crate) const COMMUNITY_SUFFIXES: &[&str] = &["", "新村", "花园", "家园", "苑", "里"];

/// Company name parts.
pub(crate) const COMPANY_WORDS: &[&str] = &[
    "华光",
    "远东",
    "海澜",
    "阳光",
    "红豆",
    "双良",
    "法尔胜",
    "长江",
    "太湖",
    "新纪元",
    "恒达",
    "宏图",
    "鼎盛",
    "中科",
    "博远",
    "天合",
    "瑞昌",
    "金源",
    "永泰",
    "协和",
    "泰和",
    "宝通",
    "隆盛",
    "信达",
];
pub(crate) const INDUSTRIES: &[&str] = &[
    "纺织",
    "机械",
    "电子",
    "物流",
    "科技",
    "医药",
    "建材",
    "服装",
    "食品",
    "软件",
    "新材料",
    "精密",
    "环保",
    "光伏",
    "汽车部件",
    "物业",
    "商贸",
    "印染",
    "设计",
    "传感",
];
pub(crate) const COMPANY_SUFFIXES: &[&str] =
    &["有限公司", "有限公司", "股份有限公司", "集团", "厂"];

pub(crate) const SUPERMARKETS: &[&str] = &[
    "大润发",
    "永辉超市",
    "华润万家",
    "苏果超市",
    "欧尚",
    "家乐福",
    "物美",
    "联华超市",
    "盒马鲜生",
    "好德便利",
];
pub(crate) const RESTAURANT_KINDS: &[&str] = &[
    "面馆",
    "小笼馆",
    "馄饨店",
    "酱排骨",
    "快餐",
    "火锅",
    "烧烤",
    "茶餐厅",
    "饺子馆",
    "川菜馆",
    "本帮菜",
    "酒家",
    "粥铺",
    "汤包店",
];
pub(crate) const PHARMACIES: &[&str] = &[
    "老百姓大药房",
    "国药控股大药房",
    "益丰大药房",
    "华润堂",
    "雷允上药房",
    "同仁堂药店",
];
pub(crate) const GYMS: &[&str] = &[
    "乐刻运动",
    "威尔士健身",
    "一兆韦德",
    "金仕堡健身",
    "全民健身中心",
];
pub(crate) const CINEMAS: &[&str] = &[
    "万达影城",
    "CGV影城",
    "横店电影城",
    "星轶影城",
    "大地影院",
    "金逸影城",
];
pub(crate) const HOTELS: &[&str] = &[
    "锦江之星",
    "如家酒店",
    "汉庭酒店",
    "全季酒店",
    "维也纳酒店",
    "亚朵酒店",
    "开元大酒店",
];

/// Chinese ordinal prefix for the second, third … of a kind in one place (第二, 第三 …).
pub(crate) fn ordinal(n: usize) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0 | 1 => String::new(),
        2..=9 => format!("第{}", DIGITS[n]),
        _ => format!("第{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn full_names_have_two_or_three_characters_and_start_with_the_family_name() {
        let mut r = Rng::new(1, Purpose::People, 0);
        for _ in 0..500 {
            let f = family_name(&mut r);
            let male = r.chance(0.5);
            let n = full_name(&mut r, f, male);
            assert!(n.starts_with(f));
            assert!((2..=3).contains(&n.chars().count()), "{n}");
        }
    }

    #[test]
    fn ordinals_read_as_chinese() {
        assert_eq!(ordinal(1), "");
        assert_eq!(ordinal(2), "第二");
        assert_eq!(ordinal(12), "第12");
    }
}
