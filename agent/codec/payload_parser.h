// Ingest payload parsers. (Interface placeholder; the parser owner fills it in.)
#pragma once
