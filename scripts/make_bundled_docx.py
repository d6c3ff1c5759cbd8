#!/usr/bin/env python3
"""Generate the bundled DOCX ``docs/mau-quy-trinh-xu-ly-phan-anh-kien-nghi.docx``.

The document (in Vietnamese) is original text written for this project: a
template process for handling citizens' and businesses' feedback and
recommendations (phản ánh, kiến nghị) in the fictional province of Bình Minh.

The output is deterministic: core properties use a fixed date and the ZIP
container is re-packed with fixed timestamps, so running the script twice
produces byte-identical files.

Usage::

    python scripts/make_bundled_docx.py [--output PATH]

Requires python-docx.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import unicodedata
import zipfile
from pathlib import Path

from docx import Document
from docx.shared import Pt

FIXED_DATE = dt.datetime(2024, 10, 1, 8, 0, 0)
ZIP_DATE = (2024, 10, 1, 8, 0, 0)
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "mau-quy-trinh-xu-ly-phan-anh-kien-nghi.docx"

TITLE = "QUY TRÌNH MẪU XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ CỦA NGƯỜI DÂN, DOANH NGHIỆP"

INTRO = [
    "Mã quy trình: QT-PAKN-01. Phiên bản 1.0, áp dụng từ ngày 01 tháng 10 năm 2024.",
    "Đơn vị chủ trì: Văn phòng Ủy ban nhân dân tỉnh Bình Minh (địa phương giả định dùng trong bộ tài liệu "
    "của dự án trợ lý ảo).",
]

# (heading, blocks); a block is a paragraph string, ("bullets", [...]),
# ("numbers", [...]) or ("table", header, rows).
SECTIONS: list[tuple[str, list]] = [
    (
        "1. Mục đích và phạm vi áp dụng",
        [
            "Quy trình này thống nhất cách tiếp nhận, phân loại, chuyển xử lý, trả lời và công khai kết quả xử lý "
            "phản ánh, kiến nghị của cá nhân, tổ chức về quy định hành chính và về việc giải quyết thủ tục hành chính "
            "tại các cơ quan hành chính nhà nước trên địa bàn tỉnh Bình Minh.",
            "Quy trình áp dụng cho Văn phòng Ủy ban nhân dân tỉnh, các sở, ban, ngành, Trung tâm Phục vụ hành chính "
            "công tỉnh, Ủy ban nhân dân cấp huyện và Ủy ban nhân dân cấp xã.",
        ],
    ),
    (
        "2. Căn cứ pháp lý",
        [
            (
                "bullets",
                [
                    "Nghị định số 20/2008/NĐ-CP ngày 14 tháng 02 năm 2008 của Chính phủ về tiếp nhận, xử lý phản ánh, "
                    "kiến nghị của cá nhân, tổ chức về quy định hành chính, được sửa đổi, bổ sung bởi Nghị định số "
                    "92/2017/NĐ-CP;",
                    "Nghị định số 61/2018/NĐ-CP ngày 23 tháng 4 năm 2018 của Chính phủ về thực hiện cơ chế một cửa, "
                    "một cửa liên thông trong giải quyết thủ tục hành chính;",
                    "Quy chế tiếp nhận, giải quyết hồ sơ thủ tục hành chính trực tuyến ban hành kèm theo Quyết định số "
                    "27/2024/QĐ-UBND ngày 15 tháng 7 năm 2024 của Ủy ban nhân dân tỉnh Bình Minh.",
                ],
            ),
        ],
    ),
    (
        "3. Phân biệt phản ánh, kiến nghị với khiếu nại, tố cáo",
        [
            "Phản ánh là việc cá nhân, tổ chức cho cơ quan nhà nước biết về những vướng mắc, bất cập trong quy định "
            "hành chính hoặc trong cách giải quyết thủ tục hành chính, ví dụ hồ sơ bị yêu cầu thêm giấy tờ ngoài quy "
            "định hoặc bị trễ hẹn. Kiến nghị là việc đề xuất phương án sửa đổi, bổ sung, đơn giản hóa quy định.",
            "Khiếu nại, tố cáo không thuộc phạm vi quy trình này và được giải quyết theo Luật Khiếu nại năm 2011 và "
            "Luật Tố cáo năm 2018. Khi nhận được nội dung là khiếu nại hoặc tố cáo, cán bộ đầu mối hướng dẫn người gửi "
            "thực hiện theo thủ tục giải quyết khiếu nại, tố cáo.",
        ],
    ),
    (
        "4. Kênh tiếp nhận",
        [
            (
                "bullets",
                [
                    "Chuyên mục Phản ánh, kiến nghị trên Cổng Dịch vụ công quốc gia và Cổng dịch vụ công của tỉnh;",
                    "Tổng đài 1900 0000 (nhánh 1), từ 7 giờ 30 đến 17 giờ 00, thứ Hai đến thứ Sáu;",
                    "Thư điện tử hotro@dichvucong.example.vn;",
                    "Văn bản gửi qua đường bưu chính hoặc nộp trực tiếp tại Bộ phận Một cửa các cấp.",
                ],
            ),
            "Mỗi phản ánh, kiến nghị được cấp một mã phản ánh bắt đầu bằng PA- để người gửi tra cứu tiến độ.",
        ],
    ),
    (
        "5. Yêu cầu đối với phản ánh, kiến nghị",
        [
            (
                "bullets",
                [
                    "Sử dụng tiếng Việt;",
                    "Ghi rõ họ và tên, địa chỉ liên hệ, số điện thoại hoặc thư điện tử của người gửi;",
                    "Nêu cụ thể nội dung phản ánh, kiến nghị; nếu liên quan đến một hồ sơ thì ghi mã hồ sơ.",
                ],
            ),
            "Không xem xét, xử lý các phản ánh, kiến nghị không xác định được người gửi, nội dung không liên quan "
            "đến quy định hành chính hoặc việc giải quyết thủ tục hành chính, hoặc đã được trả lời mà không có thông "
            "tin, tình tiết mới.",
        ],
    ),
    (
        "6. Các bước xử lý",
        [
            (
                "numbers",
                [
                    "Bước 1 – Tiếp nhận: cán bộ đầu mối tại Phòng Kiểm soát thủ tục hành chính, Văn phòng Ủy ban nhân "
                    "dân tỉnh ghi nhận phản ánh, kiến nghị vào Hệ thống và cấp mã phản ánh ngay khi nhận được.",
                    "Bước 2 – Phân loại: trong thời hạn 02 ngày làm việc kể từ ngày tiếp nhận, cán bộ đầu mối phân loại "
                    "nội dung và xác định cơ quan có thẩm quyền xử lý.",
                    "Bước 3 – Chuyển xử lý: trong thời hạn 01 ngày làm việc sau khi phân loại, chuyển phản ánh, kiến nghị "
                    "đến cơ quan có thẩm quyền ở cấp xã, cấp huyện hoặc cấp tỉnh.",
                    "Bước 4 – Xử lý và trả lời: cơ quan có thẩm quyền xem xét và trả lời bằng văn bản. Tổng thời gian từ "
                    "khi tiếp nhận đến khi trả lời không quá 10 ngày làm việc; trường hợp phức tạp, cần phối hợp nhiều cơ "
                    "quan thì không quá 20 ngày làm việc và phải thông báo việc gia hạn cho người gửi.",
                    "Bước 5 – Công khai kết quả: trong thời hạn 05 ngày làm việc kể từ ngày có văn bản trả lời, kết quả "
                    "xử lý được công khai trên Cổng dịch vụ công của tỉnh, sau khi đã lược bỏ thông tin cá nhân của "
                    "người gửi.",
                    "Bước 6 – Đánh giá: người gửi đánh giá mức độ hài lòng. Nếu chưa đồng ý với nội dung trả lời, người "
                    "gửi có thể đề nghị xem xét lại một lần trong thời hạn 10 ngày làm việc kể từ ngày nhận được văn "
                    "bản trả lời.",
                ],
            ),
            (
                "table",
                ["Bước", "Đơn vị thực hiện", "Thời hạn"],
                [
                    ["Tiếp nhận", "Văn phòng Ủy ban nhân dân tỉnh", "Ngay khi nhận được"],
                    ["Phân loại", "Văn phòng Ủy ban nhân dân tỉnh", "02 ngày làm việc"],
                    ["Chuyển xử lý", "Văn phòng Ủy ban nhân dân tỉnh", "01 ngày làm việc"],
                    ["Xử lý, trả lời", "Cơ quan có thẩm quyền", "Không quá 10 ngày làm việc (phức tạp: 20 ngày làm việc)"],
                    ["Công khai kết quả", "Cơ quan có thẩm quyền", "05 ngày làm việc"],
                ],
            ),
        ],
    ),
    (
        "7. Trách nhiệm của các cấp",
        [
            (
                "bullets",
                [
                    "Ủy ban nhân dân cấp xã: xử lý phản ánh, kiến nghị về việc giải quyết thủ tục hành chính thuộc thẩm "
                    "quyền cấp xã, như hộ tịch, chứng thực; báo cáo kết quả về Ủy ban nhân dân cấp huyện.",
                    "Ủy ban nhân dân cấp huyện: xử lý phản ánh, kiến nghị thuộc thẩm quyền cấp huyện; theo dõi, đôn đốc "
                    "cấp xã trả lời đúng hạn.",
                    "Văn phòng Ủy ban nhân dân tỉnh: là đầu mối tiếp nhận, phân loại, chuyển xử lý và theo dõi toàn bộ "
                    "phản ánh, kiến nghị; tổng hợp báo cáo Chủ tịch Ủy ban nhân dân tỉnh.",
                    "Các sở, ban, ngành: xử lý phản ánh, kiến nghị thuộc lĩnh vực quản lý; đề xuất sửa đổi quy định "
                    "hành chính khi kiến nghị có cơ sở.",
                ],
            ),
        ],
    ),
    (
        "8. Lưu trữ và báo cáo",
        [
            "Hồ sơ xử lý phản ánh, kiến nghị được lưu trữ trong thời hạn 05 năm kể từ ngày trả lời. Văn phòng Ủy ban "
            "nhân dân tỉnh báo cáo tình hình tiếp nhận, xử lý phản ánh, kiến nghị định kỳ hằng quý, trong đó nêu rõ "
            "số lượng phản ánh, kiến nghị được trả lời đúng hạn và quá hạn.",
        ],
    ),
    (
        "9. Đầu mối liên hệ",
        [
            "Phòng Kiểm soát thủ tục hành chính, Văn phòng Ủy ban nhân dân tỉnh Bình Minh: tổng đài 1900 0000, thư "
            "điện tử hotro@dichvucong.example.vn.",
        ],
    ),
]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _repack_deterministic(data: bytes) -> bytes:
    """Re-write the ZIP container with fixed timestamps and a stable order."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o600 << 16
            dst.writestr(new, src.read(info.filename))
    return out.getvalue()


def build(output: Path) -> Path:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)

    props = doc.core_properties
    props.title = _nfc("Quy trình mẫu xử lý phản ánh, kiến nghị của người dân, doanh nghiệp")
    props.author = _nfc("Văn phòng Ủy ban nhân dân tỉnh Bình Minh")
    props.last_modified_by = _nfc("Văn phòng Ủy ban nhân dân tỉnh Bình Minh")
    props.subject = _nfc("Phản ánh, kiến nghị")
    props.keywords = _nfc("phản ánh, kiến nghị, QT-PAKN-01")
    props.comments = ""
    props.category = ""
    props.language = "vi-VN"
    props.revision = 1
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    props.last_printed = FIXED_DATE

    doc.add_heading(_nfc(TITLE), level=0)
    for line in INTRO:
        doc.add_paragraph(_nfc(line))

    for heading, blocks in SECTIONS:
        doc.add_heading(_nfc(heading), level=1)
        for block in blocks:
            if isinstance(block, str):
                doc.add_paragraph(_nfc(block))
            elif block[0] == "bullets":
                for item in block[1]:
                    doc.add_paragraph(_nfc(item), style="List Bullet")
            elif block[0] == "numbers":
                for item in block[1]:
                    doc.add_paragraph(_nfc(item), style="List Number")
            elif block[0] == "table":
                header, rows = block[1], block[2]
                table = doc.add_table(rows=1, cols=len(header))
                table.style = "Table Grid"
                for cell, text in zip(table.rows[0].cells, header):
                    cell.text = _nfc(text)
                for row in rows:
                    cells = table.add_row().cells
                    for cell, text in zip(cells, row):
                        cell.text = _nfc(text)
            else:  # pragma: no cover - programming error
                raise ValueError(f"unknown block type {block[0]!r}")

    buffer = io.BytesIO()
    doc.save(buffer)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(_repack_deterministic(buffer.getvalue()))
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    path = build(args.output)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
