"""Generated category covers for `flask seed demo`."""
import io

from PIL import Image

from app.directory.covers import render_cover
from app.extensions import db
from app.models import Category


def test_render_cover_is_a_portrait_jpeg():
    image = Image.open(io.BytesIO(render_cover("Software & Game Dev", "software-and-game-dev")))
    assert image.format == "JPEG" and image.size == (600, 800)


def test_seed_demo_gives_categories_covers(make_app, tmp_path):
    app = make_app(STORAGE_ROOT=str(tmp_path))
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
        categories = db.session.scalars(db.select(Category)).all()
        assert categories and all(c.cover_key for c in categories)
        assert all((tmp_path / c.cover_key).is_file() for c in categories)
        html = app.test_client().get("/directory").get_data(as_text=True)
        assert f'src="/media/{categories[0].cover_key}"' in html
