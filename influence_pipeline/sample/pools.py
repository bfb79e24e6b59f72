"""Static vocabularies the synthetic world draws from (names, brands, pages, user agents)."""

FIRST_NAMES = [
    "Jane", "Maya", "Olivia", "Emma", "Ava", "Sophia", "Mia", "Chloe", "Lily", "Grace", "Zoë", "Noémie", "Léa",
    "Sofía", "Lucía", "Ines", "Freya", "Isla", "Amelia", "Harper", "Nora", "Hannah", "Sara", "Elena", "Priya",
    "Aisha", "Yuki", "Mei", "Camila", "Valentina", "Ella", "Ruby", "Leah", "Jade", "Tessa", "Kira", "Nina",
    "Liam", "Noah", "Lucas", "Ethan", "Mason", "Leo", "Oscar", "Theo", "Finn", "Jonas", "Mateo", "José",
    "André", "Ravi", "Kenji", "Omar", "Jamal", "Tyler", "Jake", "Ryan", "Marcus", "Adam", "Owen", "Felix",
    "Hugo", "Max", "Sam", "Alex", "Jordan", "Taylor", "Casey", "Riley", "Morgan", "Avery", "Quinn",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson",
    "Anderson", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Carter",
    "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart",
    "Morris", "Murphy", "Cook", "Rogers", "Reed", "Bailey", "Bell", "Cooper", "Ward", "Müller", "Schmidt",
    "Dubois", "Lefèvre", "Rossi", "Bianchi", "Núñez", "Fernández", "Jansen", "de Vries", "Nilsson", "Kowalski",
    "O'Brien", "Nguyen", "Tanaka", "Patel", "Okafor", "Silva",
]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com"]
# (ISO-2, weight, currency): the shop sells mostly in the US, some in the UK and the euro area.
COUNTRIES = [
    ("US", 0.46, "USD"), ("CA", 0.06, "USD"), ("GB", 0.14, "GBP"), ("DE", 0.07, "EUR"), ("FR", 0.06, "EUR"),
    ("ES", 0.04, "EUR"), ("IT", 0.04, "EUR"), ("NL", 0.03, "EUR"), ("SE", 0.02, "EUR"), ("AU", 0.05, "USD"),
    ("BR", 0.03, "USD"),
]
FX = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}
NICHES = ["beauty", "fitness", "fashion", "food", "travel", "wellness", "home", "parenting", "tech", "outdoors"]
NICHE_TEXT = {  # humans type the niche freely in the CRM
    "beauty": ["beauty", "Beauty", "beauty & skincare"], "fitness": ["fitness", "Fitness", "fitness/gym"],
    "fashion": ["fashion", "Fashion", "style"], "food": ["food", "Food", "food & recipes"],
    "travel": ["travel", "Travel"], "wellness": ["wellness", "Wellness", "yoga/wellness"],
    "home": ["home", "home decor", "Home"], "parenting": ["parenting", "mom life", "Parenting"],
    "tech": ["tech", "Tech", "gadgets"], "outdoors": ["outdoors", "Outdoors", "hiking"],
}
# Product lines of the one shop every campaign sells; (brand, niches it fits, [(product slug, USD price)]).
BRANDS = [
    ("Lumen Skin", ("beauty", "wellness"), [("vitamin-c-serum", 34.0), ("hydra-cream", 28.0), ("spf-50-fluid", 24.0)]),
    ("Northpeak", ("outdoors", "travel", "fitness"), [("trail-bottle", 19.9), ("alpine-jacket", 129.0),
                                                      ("daypack-22l", 79.0)]),
    ("FitFuel", ("fitness", "food", "wellness"), [("whey-vanilla", 39.9), ("shaker-pro", 14.9),
                                                  ("protein-bars-12", 29.0)]),
    ("Casa Verde", ("home", "parenting"), [("linen-throw", 59.0), ("soy-candle", 22.0), ("herb-planter", 34.5)]),
    ("Bytewise", ("tech",), [("magsafe-stand", 45.0), ("usb-c-hub", 59.9), ("travel-charger", 39.0)]),
    ("Petal & Pine", ("fashion", "beauty"), [("silk-scrunchie-set", 18.0), ("tote-canvas", 35.0),
                                             ("gold-hoops", 49.0)]),
]
CAMPAIGN_THEMES = ["Glow Up", "Holiday Edit", "Back to Routine", "Summer Reset", "New Year, New You", "Weekend Drop",
                   "Fall Favorites", "Launch", "Self-Care Sunday", "Gift Guide", "Spring Refresh", "Creator Picks"]
SITE_PAGES = ["/", "/collections/all", "/collections/new-arrivals", "/collections/bestsellers", "/pages/about",
              "/blogs/journal/how-we-source", "/blogs/journal/gift-ideas", "/search?q=gift", "/pages/faq"]
SEARCH_REFERRERS = [("https://www.google.com/", 0.85), ("https://www.bing.com/", 0.1),
                    ("https://duckduckgo.com/", 0.05)]
SOCIAL_REFERRERS = [("https://www.facebook.com/", "facebook", 0.4), ("https://www.pinterest.com/", "pinterest", 0.3),
                    ("https://www.reddit.com/", "reddit", 0.15), ("https://t.co/", "twitter", 0.15)]
PLATFORM_REFERRERS = {"instagram": "https://l.instagram.com/", "tiktok": "https://www.tiktok.com/",
                      "youtube": "https://www.youtube.com/"}
USER_AGENTS = [  # (ua, weight); the in-app browsers are only used for arrivals from that app
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.5 Mobile/15E148 Safari/604.1", 0.30),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Mobile "
     "Safari/537.36", 0.18),
    ("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Mobile "
     "Safari/537.36", 0.12),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 "
     "Safari/537.36", 0.17),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 "
     "Safari/605.1.15", 0.12),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0", 0.05),
    ("Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 "
     "Mobile/15E148 Safari/604.1", 0.06),
]
IN_APP_UA = {
    "instagram": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 Instagram 389.0.0.32.110 (iPhone15,2; iOS 18_5; en_US; en; scale=3.00; 1179x2556)",
    "tiktok": "Mozilla/5.0 (Linux; Android 14; SM-S921B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Version/4.0 Chrome/139.0.0.0 Mobile Safari/537.36 musical_ly_2024003040 BytedanceWebview/d8a21c6",
}
CAPTIONS = {
    "beauty": ["My 5-minute morning routine ✨", "Skin update: week 3", "GRWM for date night 💄", "Honest review time"],
    "fitness": ["Leg day done 🦵", "Full-body HIIT you can do at home", "Meal prep Sunday 💪", "PR day!"],
    "fashion": ["Three ways to style one blazer", "OOTD 🖤", "Capsule wardrobe essentials", "Thrift haul"],
    "food": ["15-minute pasta 🍝", "Easy overnight oats", "Trying the viral recipe", "Sunday brunch spread"],
    "travel": ["Hidden gems in Lisbon 🇵🇹", "What I packed for 10 days", "Sunrise hike was worth it", "Hotel tour"],
    "wellness": ["Evening wind-down routine 🌙", "Journaling prompts for you", "Slow morning", "Breathwork 101"],
    "home": ["Cosy corner makeover 🕯️", "Small space, big ideas", "Before/after: kitchen", "Plant shelfie"],
    "parenting": ["Toddler-approved snacks", "Real talk about sleep", "Our weekend in pictures", "Mom hacks"],
    "tech": ["Desk setup 2026 ⌨️", "Is it worth it? Unboxing", "My everyday carry", "5 apps I use daily"],
    "outdoors": ["Summit day ⛰️", "Gear I actually use", "Camping on a budget", "Trail run recap"],
}
HASHTAGS = ["#fyp", "#reels", "#dailyvlog", "#tips", "#routine", "#haul", "#weekend", "#howto", "#explore", "#love"]
YT_TITLES = ["{c} (honest review)", "I tried {c} for 30 days", "{c} | vlog", "Everything you need to know: {c}",
             "{c} #shorts"]
