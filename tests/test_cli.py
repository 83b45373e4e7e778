"""The `flask users`, `flask channels` and `flask seed` commands."""
from sqlalchemy import func, select

from app.auth import services as accounts
from app.extensions import db
from app.models import Category, Channel, User
from tests.factories import make_user


def test_users_create(runner):
    result = runner.invoke(args=["users", "create", "carol", "--password", "a long enough pass",
                                 "--email", "c@example.com"])
    assert result.exit_code == 0, result.output
    user = accounts.find_user("carol")
    assert user.email == "c@example.com" and not user.is_admin
    assert user.channel.slug == "carol"
    assert accounts.authenticate("carol", "a long enough pass") == user


def test_users_create_admin_with_default_email(runner):
    result = runner.invoke(args=["users", "create", "Root_Admin", "--password", "a long enough pass", "--admin"])
    assert result.exit_code == 0, result.output
    user = accounts.find_user("root_admin")
    assert user.is_admin and user.email == "root_admin@example.com"


def test_users_create_refuses_bad_input_clearly(runner):
    make_user("carol")
    for args, message in [
        (["carol", "--password", "a long enough pass"], "username: That username is taken."),
        (["dave", "--password", "short"], "password: Use at least 10 characters."),
        (["bad name", "--password", "a long enough pass"], "username: Usernames are"),
    ]:
        result = runner.invoke(args=["users", "create", *args])
        assert result.exit_code != 0
        assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_channels_key_rotate_prints_new_key_last(runner):
    make_user("carol")
    result = runner.invoke(args=["channels", "key", "carol", "--rotate"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    channel = db.session.scalar(select(Channel).where(Channel.slug == "carol"))
    assert channel.check_stream_key(key)
    again = runner.invoke(args=["channels", "key", "carol", "--rotate"]).output.strip().splitlines()[-1]
    db.session.refresh(channel)
    assert again != key and channel.check_stream_key(again) and not channel.check_stream_key(key)


def test_channels_key_without_rotate_never_prints_a_key(runner):
    make_user("carol")
    assert "no stream key yet" in runner.invoke(args=["channels", "key", "carol"]).output
    key = runner.invoke(args=["channels", "key", "carol", "--rotate"]).output.strip().splitlines()[-1]
    output = runner.invoke(args=["channels", "key", "carol"]).output
    assert "has a stream key" in output and key not in output


def test_channels_key_unknown_channel(runner):
    result = runner.invoke(args=["channels", "key", "nobody", "--rotate"])
    assert result.exit_code != 0 and "No channel or user named 'nobody'" in result.output


def latency_of(slug: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Channel.latency_mode).where(Channel.slug == slug))


def test_channels_latency_get_and_set(runner):
    make_user("carol")
    result = runner.invoke(args=["channels", "latency", "carol"])
    assert result.exit_code == 0 and result.output.strip() == "low"
    result = runner.invoke(args=["channels", "latency", "carol", "normal"])
    assert result.exit_code == 0 and result.output.strip() == "normal"
    assert latency_of("carol") == "normal"
    assert runner.invoke(args=["channels", "latency", "carol"]).output.strip() == "normal"
    assert runner.invoke(args=["channels", "latency", "carol", "LOW"]).output.strip() == "low"
    assert latency_of("carol") == "low"


def test_channels_latency_refuses_bad_mode_and_unknown_channel(runner):
    make_user("carol")
    result = runner.invoke(args=["channels", "latency", "carol", "fast"])
    assert result.exit_code != 0 and "'fast' is not one of 'low', 'normal'" in result.output
    result = runner.invoke(args=["channels", "latency", "nobody", "normal"])
    assert result.exit_code != 0 and "No channel or user named 'nobody'" in result.output
    assert latency_of("carol") == "low"


def test_seed_demo_is_idempotent(runner):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    users = db.session.scalar(select(func.count()).select_from(User))
    categories = db.session.scalar(select(func.count()).select_from(Category))
    assert users >= 5 and categories >= 8
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    live_titles = db.session.scalars(select(Channel.title)).all()
    assert all(live_titles)


def test_channels_mods_add_list_remove(app, runner):
    from tests.factories import make_user

    make_user("castor")
    make_user("sidekick")
    result = runner.invoke(args=["channels", "mods", "castor", "add", "sidekick"])
    assert result.exit_code == 0 and result.output.strip() == "sidekick"
    assert runner.invoke(args=["channels", "mods", "castor"]).output.strip() == "sidekick"
    again = runner.invoke(args=["channels", "mods", "castor", "add", "sidekick"])
    assert again.exit_code != 0 and "already a moderator" in again.output
    assert runner.invoke(args=["channels", "mods", "castor", "add", "nobody"]).exit_code != 0
    result = runner.invoke(args=["channels", "mods", "castor", "remove", "sidekick"])
    assert result.exit_code == 0 and result.output.strip() == ""
