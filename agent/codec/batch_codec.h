// The columnar batch encoding: readings -> ReadingBatch columns -> protobuf -> zstd, and back.
// (Interface placeholder; the codec owner fills it in.)
#pragma once
