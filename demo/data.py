"""What the demo shop holds. Edit here; demo.services.demo_data_load writes it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoCategory:
    slug: str
    name: str
    position: int
    parent_slug: str | None = None  # parents come before their children in CATEGORIES


@dataclass(frozen=True)
class DemoSku:
    code: str
    specs: dict[str, str]
    price_fen: int
    stock: int
    list_price_fen: int | None = None


@dataclass(frozen=True)
class DemoProduct:
    key: str  # names the image file
    category_slug: str
    title: str
    subtitle: str
    description: str
    # Latin text: Pillow's built-in font has no Chinese glyphs.
    image_label: str
    image_colour: str
    skus: list[DemoSku]


@dataclass(frozen=True)
class DemoArticle:
    key: str
    title: str
    author: str
    digest: str
    content: str
    cover_label: str
    cover_colour: str


CATEGORIES = [
    DemoCategory(slug="tea", name="茶与茶具", position=10),
    DemoCategory(slug="tea-leaves", name="茶叶", position=10, parent_slug="tea"),
    DemoCategory(slug="teaware", name="茶具", position=20, parent_slug="tea"),
    DemoCategory(slug="kitchen", name="餐厨", position=20),
    DemoCategory(slug="home", name="家居", position=30),
]

PRODUCTS = [
    DemoProduct(
        key="ceramic-mug",
        category_slug="kitchen",
        title="景德镇手作陶瓷马克杯",
        subtitle="月白与青瓷两色，350ml 刚好一杯拿铁",
        description="<p>景德镇匠人手工拉坯，釉面温润，可进微波炉与洗碗机。</p>",
        image_label="Ceramic Mug",
        image_colour="#3d7ea6",
        skus=[
            DemoSku(
                code="MUG-350-WHITE",
                specs={"颜色": "月白", "容量": "350ml"},
                price_fen=3990,
                stock=120,
                list_price_fen=5990,
            ),
            DemoSku(code="MUG-350-CELADON", specs={"颜色": "青瓷", "容量": "350ml"}, price_fen=4500, stock=80),
            DemoSku(code="MUG-500-WHITE", specs={"颜色": "月白", "容量": "500ml"}, price_fen=4990, stock=0),
        ],
    ),
    DemoProduct(
        key="tea-set",
        category_slug="teaware",
        title="汝窑功夫茶具套装",
        subtitle="一壶一海，开片自然",
        description="<p>一壶一海，配品茗杯，开片自然，适合三五好友围炉煮茶。</p>",
        image_label="Tea Set",
        image_colour="#6b8e4e",
        skus=[
            DemoSku(code="TEASET-6CUP", specs={"配置": "一壶六杯"}, price_fen=12800, stock=30, list_price_fen=15800),
            DemoSku(code="TEASET-8CUP", specs={"配置": "一壶八杯"}, price_fen=16800, stock=12),
        ],
    ),
    DemoProduct(
        key="puer-cake",
        category_slug="tea-leaves",
        title="云南勐海古树普洱茶饼 357g",
        subtitle="古树春茶，生熟可选",
        description="<p>勐海古树春茶压制，生茶鲜爽回甘，熟茶醇厚顺滑。</p>",
        image_label="Pu'er Tea Cake",
        image_colour="#8c5a3c",
        skus=[
            DemoSku(code="PUER-357-RAW", specs={"类型": "生茶"}, price_fen=29800, stock=40, list_price_fen=32800),
            DemoSku(code="PUER-357-RIPE", specs={"类型": "熟茶"}, price_fen=25800, stock=55),
        ],
    ),
    DemoProduct(
        key="bamboo-board",
        category_slug="kitchen",
        title="楠竹整竹砧板",
        subtitle="整竹压制，双面可用",
        description="<p>整竹压制，不易开裂，双面可用。</p>",
        image_label="Bamboo Board",
        image_colour="#b08d3c",
        skus=[
            DemoSku(code="BOARD-S", specs={"尺寸": "32×22cm"}, price_fen=5900, stock=200),
            DemoSku(code="BOARD-L", specs={"尺寸": "40×28cm"}, price_fen=8900, stock=150),
        ],
    ),
    DemoProduct(
        key="cotton-bedding",
        category_slug="home",
        title="新疆长绒棉床品四件套",
        subtitle="60 支贡缎，亲肤透气",
        description="<p>60 支长绒棉贡缎，亲肤透气，含被套、床单与两只枕套。</p>",
        image_label="Cotton Bedding",
        image_colour="#7a6fa8",
        skus=[
            DemoSku(code="BED-150-GREY", specs={"床宽": "1.5m", "颜色": "雾灰"}, price_fen=39900, stock=25),
            DemoSku(code="BED-180-GREY", specs={"床宽": "1.8m", "颜色": "雾灰"}, price_fen=45900, stock=18),
            DemoSku(code="BED-180-BLUE", specs={"床宽": "1.8m", "颜色": "靛蓝"}, price_fen=45900, stock=9),
        ],
    ),
]

ARTICLES = [
    DemoArticle(
        key="new-mugs",
        title="新品上架：景德镇手作马克杯",
        author="小店编辑部",
        digest="月白与青瓷两色，每一只都由匠人手工拉坯。",
        content=(
            "<p>秋天到了，我们从景德镇带回了一批手作马克杯。</p>"
            "<p>月白温润，青瓷清透，350ml 刚好一杯拿铁。</p>"
            "<p><strong>上新价 ¥39.90 起</strong>，点击阅读原文进入小程序选购。</p>"
        ),
        cover_label="New: Ceramic Mugs",
        cover_colour="#3d7ea6",
    ),
    DemoArticle(
        key="puer-guide",
        title="秋日饮茶指南：普洱生茶与熟茶之别",
        author="茶事顾问",
        digest="生茶鲜爽、熟茶醇和，三分钟读懂怎么选。",
        content=(
            "<h2>生茶</h2><p>晒青毛茶直接压制，滋味鲜爽，越陈越香。</p>"
            "<h2>熟茶</h2><p>经渥堆发酵，汤色红浓，口感醇厚，适合秋冬。</p>"
            "<p>入门建议先从熟茶开始。</p>"
        ),
        cover_label="Pu'er Tea Guide",
        cover_colour="#8c5a3c",
    ),
    DemoArticle(
        key="member-day",
        title="会员日｜全场茶具满 199 减 30",
        author="小店编辑部",
        digest="本周六会员日，茶具与茶叶同享满减。",
        content="<p>本周六 10:00 至 24:00，全场茶具满 199 减 30，可与新人券叠加。</p>",
        cover_label="Member Day",
        cover_colour="#6b8e4e",
    ),
]

OFFICIAL_ACCOUNT_NAME = "茶器生活 Tea Living"
MINI_PROGRAM_NAME = "茶器生活 小程序商城"
MERCHANT_NAME = "茶器生活 微信支付商户"
