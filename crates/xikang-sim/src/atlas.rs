//! The fixed geography the synthetic city is built on: Wuxi's seven county-level divisions
//! with their GB/T 2260 codes, relative populations, approximate centres, streets and towns,
//! stations and well-known scenic spots. Everything that scales with the number of people
//! (communities, grid cells, venues) is generated from this in `city`.

/// One county-level division as the generator sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DistrictSpec {
    /// GB/T 2260 code.
    pub code: u32,
    pub name: &'static str,
    /// Short form used in venue names (梁溪 for 梁溪区).
    pub short: &'static str,
    /// Prefix of company names: the urban districts say 无锡, the county-level cities their own name.
    pub city_prefix: &'static str,
    /// Residents in thousands (2020 census, rounded); only the ratios matter.
    pub population_k: u32,
    /// Approximate centre, WGS-84.
    pub lat: f64,
    pub lon: f64,
    /// Streets (街道) and towns (镇), real names.
    pub streets: &'static [&'static str],
    pub train_station: Option<&'static str>,
    pub coach_station: &'static str,
    pub scenic_spots: &'static [&'static str],
    /// Weight of this district as a destination for commuters from other districts.
    pub job_pull: u32,
    /// Per mille of workers living here who work in another district.
    pub commute_out_permille: u32,
}

/// Wuxi's county-level divisions. The urban districts exchange commuters; 江阴 and 宜兴 are
/// county-level cities whose residents mostly work at home.
pub(crate) const DISTRICTS: [DistrictSpec; 7] = [
    DistrictSpec {
        code: 320213,
        name: "梁溪区",
        short: "梁溪",
        city_prefix: "无锡",
        population_k: 1000,
        lat: 31.575,
        lon: 120.296,
        streets: &[
            "崇安寺街道",
            "通江街道",
            "广瑞路街道",
            "上马墩街道",
            "江海街道",
            "广益街道",
            "迎龙桥街道",
            "南禅寺街道",
            "清名桥街道",
            "金星街道",
            "金匮街道",
            "扬名街道",
            "黄巷街道",
            "山北街道",
            "北大街街道",
            "惠山街道",
        ],
        train_station: Some("无锡站"),
        coach_station: "无锡汽车客运站",
        scenic_spots: &["惠山古镇", "南禅寺", "清名桥古运河", "东林书院", "锡惠公园"],
        job_pull: 16,
        commute_out_permille: 250,
    },
    DistrictSpec {
        code: 320205,
        name: "锡山区",
        short: "锡山",
        city_prefix: "无锡",
        population_k: 770,
        lat: 31.600,
        lon: 120.420,
        streets: &[
            "东亭街道",
            "安镇街道",
            "厚桥街道",
            "东北塘街道",
            "云林街道",
            "羊尖镇",
            "鹅湖镇",
            "东港镇",
            "锡北镇",
        ],
        train_station: Some("无锡东站"),
        coach_station: "锡山汽车客运站",
        scenic_spots: &["荡口古镇", "锡山宛山湖公园"],
        job_pull: 8,
        commute_out_permille: 280,
    },
    DistrictSpec {
        code: 320206,
        name: "惠山区",
        short: "惠山",
        city_prefix: "无锡",
        population_k: 850,
        lat: 31.670,
        lon: 120.250,
        streets: &[
            "堰桥街道",
            "长安街道",
            "钱桥街道",
            "前洲街道",
            "玉祁街道",
            "洛社镇",
            "阳山镇",
        ],
        train_station: Some("惠山站"),
        coach_station: "惠山汽车客运站",
        scenic_spots: &["阳山桃园", "惠山森林公园"],
        job_pull: 8,
        commute_out_permille: 280,
    },
    DistrictSpec {
        code: 320211,
        name: "滨湖区",
        short: "滨湖",
        city_prefix: "无锡",
        population_k: 700,
        lat: 31.510,
        lon: 120.220,
        streets: &[
            "河埒街道",
            "荣巷街道",
            "蠡园街道",
            "蠡湖街道",
            "华庄街道",
            "太湖街道",
            "雪浪街道",
            "马山街道",
            "胡埭镇",
        ],
        train_station: None,
        coach_station: "滨湖汽车客运站",
        scenic_spots: &["鼋头渚", "蠡园", "灵山大佛", "拈花湾", "梅园"],
        job_pull: 11,
        commute_out_permille: 260,
    },
    DistrictSpec {
        code: 320214,
        name: "新吴区",
        short: "新吴",
        city_prefix: "无锡",
        population_k: 770,
        lat: 31.530,
        lon: 120.400,
        streets: &[
            "旺庄街道",
            "硕放街道",
            "江溪街道",
            "新安街道",
            "梅村街道",
            "鸿山街道",
        ],
        train_station: Some("无锡新区站"),
        coach_station: "新区汽车客运站",
        scenic_spots: &["鸿山遗址博物馆", "梅里古镇"],
        job_pull: 18,
        commute_out_permille: 220,
    },
    DistrictSpec {
        code: 320281,
        name: "江阴市",
        short: "江阴",
        city_prefix: "江阴",
        population_k: 1780,
        lat: 31.840,
        lon: 120.290,
        streets: &[
            "澄江街道",
            "南闸街道",
            "云亭街道",
            "城东街道",
            "夏港街道",
            "申港街道",
            "利港街道",
            "月城镇",
            "青阳镇",
            "徐霞客镇",
            "华士镇",
            "周庄镇",
            "新桥镇",
            "长泾镇",
            "顾山镇",
            "祝塘镇",
            "璜土镇",
        ],
        train_station: Some("江阴站"),
        coach_station: "江阴汽车客运站",
        scenic_spots: &["徐霞客故居", "鹅鼻嘴公园", "华西村"],
        job_pull: 3,
        commute_out_permille: 60,
    },
    DistrictSpec {
        code: 320282,
        name: "宜兴市",
        short: "宜兴",
        city_prefix: "宜兴",
        population_k: 1290,
        lat: 31.340,
        lon: 119.820,
        streets: &[
            "宜城街道",
            "屺亭街道",
            "新街街道",
            "新庄街道",
            "芳桥街道",
            "张渚镇",
            "西渚镇",
            "太华镇",
            "徐舍镇",
            "官林镇",
            "杨巷镇",
            "新建镇",
            "和桥镇",
            "高塍镇",
            "万石镇",
            "周铁镇",
            "丁蜀镇",
            "湖㳇镇",
        ],
        train_station: Some("宜兴站"),
        coach_station: "宜兴汽车客运站",
        scenic_spots: &["善卷洞", "竹海", "龙背山森林公园"],
        job_pull: 2,
        commute_out_permille: 50,
    },
];

/// Index into [`DISTRICTS`] of the district that has the airport (苏南硕放国际机场 is in 新吴区).
pub(crate) const AIRPORT_DISTRICT: usize = 4;
/// The one airport.
pub(crate) const AIRPORT_NAME: &str = "苏南硕放国际机场";

/// Grid-cell spacing: about 800 m, the companion cell size of the default policy.
pub(crate) const CELL_LAT_DEG: f64 = 0.0072;
pub(crate) const CELL_LON_DEG: f64 = 0.0084;

/// A street's name without its 街道 / 镇 suffix, for venue names.
pub(crate) fn street_short(name: &str) -> &str {
    name.strip_suffix("街道")
        .or_else(|| name.strip_suffix('镇'))
        .unwrap_or(name)
}

/// Whether a street is a town (镇), whose communities are mostly villages (村).
pub(crate) fn is_town(name: &str) -> bool {
    name.ends_with('镇')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seven_districts_have_distinct_codes_inside_wuxi() {
        let mut codes: Vec<u32> = DISTRICTS.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 7);
        assert!(codes.iter().all(|c| c / 100 == 3202));
    }

    #[test]
    fn street_suffixes_are_stripped() {
        assert_eq!(street_short("崇安寺街道"), "崇安寺");
        assert_eq!(street_short("羊尖镇"), "羊尖");
        assert!(is_town("羊尖镇"));
        assert!(!is_town("东亭街道"));
    }
}
