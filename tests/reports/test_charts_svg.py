"""The reports' inline SVG charts (reports/charts.py): what a reader sees of each label."""

import re

from reports import charts as charts_svg


def test_long_row_labels_of_a_stacked_chart_keep_their_start():
    """Given a segment label of 39 characters, when the shares chart draws it, then the label
    area is wide enough for it (it starts inside the chart), and a label too long for any area
    is shortened with an ellipsis, its whole text kept in a tooltip."""
    long = "Enterprise (premium line, longer cycle)"
    huge = "A segment label far too long to be drawn whole beside its bar, whatever the width"
    svg = str(
        charts_svg.stacked_shares(title="t", names=["a", "b"], rows=[(long, [1, 2]), (huge, [2, 1]), ("All", [3, 3])])
    )
    label_w = int(re.search(r'<text class="tick" x="(\d+)"', svg).group(1)) + 6
    assert label_w >= len(long) * charts_svg.LABEL_CHAR_W  # the start of the label is not cut
    assert f"<title>{long}</title>{long}</text>" in svg
    shown = re.search(rf"<title>{huge}</title>([^<]*)</text>", svg).group(1)
    assert shown.endswith("…") and huge.startswith(shown[:-1])
    assert label_w <= charts_svg.WIDTH * 2 // 5
