# cmake -DPANDOC=... -DGZIP=... -DINPUT=page.N.md -DOUTPUT=.../page.N.gz -DVERSION=x.y.z -P render.cmake
# Expands "<!-- include FILE.md -->" lines (FILE.md next to the page), converts the page to roff
# with pandoc (the footer names the version) and compresses it with gzip -9n (no name or time
# stamp in the file: the same sources give the same bytes).
get_filename_component(_dir ${INPUT} DIRECTORY)
file(READ ${INPUT} _text)
string(REGEX MATCHALL "<!-- include [A-Za-z0-9_.-]+ -->" _includes "${_text}")
foreach(_include IN LISTS _includes)
  string(REGEX REPLACE "<!-- include ([A-Za-z0-9_.-]+) -->" "\\1" _file "${_include}")
  file(READ ${_dir}/${_file} _fragment)
  string(REPLACE "${_include}" "${_fragment}" _text "${_text}")
endforeach()
string(REGEX REPLACE "\\.gz$" "" _roff ${OUTPUT})
get_filename_component(_outdir ${OUTPUT} DIRECTORY)
file(MAKE_DIRECTORY ${_outdir})
file(WRITE ${_roff}.md "${_text}")
execute_process(
  COMMAND ${PANDOC} --standalone --from markdown-smart --to man
          --metadata "footer=softndk ${VERSION}" --metadata "header=softndk manual"
          --output ${_roff} ${_roff}.md
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "pandoc failed on ${INPUT}")
endif()
file(REMOVE ${_roff}.md)
execute_process(COMMAND ${GZIP} -9nf ${_roff} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "gzip failed on ${_roff}")
endif()
