"""Print one closing line totalling several pytest JUnit XML reports; exit 1 if any ran no test."""

import sys
import xml.etree.ElementTree as ET


def main(paths: list[str]) -> int:
    passed = failed = skipped = 0
    empty = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            empty.append(path)
            continue
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        tests = sum(int(s.get("tests", 0)) for s in suites)
        bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        skip = sum(int(s.get("skipped", 0)) for s in suites)
        if tests == 0:
            empty.append(path)
        passed += tests - bad - skip
        failed += bad
        skipped += skip
    for path in empty:
        sys.stdout.write(f"no tests ran in {path}\n")
    sys.stdout.write(f"total: {passed} passed, {failed} failed, {skipped} skipped\n")
    return 1 if empty or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
